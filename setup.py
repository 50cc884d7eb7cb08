"""Package list for setuptools: the code packages plus templates/ shipped as `auditor_templates`.

pyproject.toml holds everything else; setuptools cannot express a renamed top-level data folder
beside auto-discovered packages in pyproject alone.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["auditor", "auditor.*", "gui", "gui.*", "reports", "reports.*"])
    + ["auditor_templates"],
    package_dir={"auditor_templates": "templates"},
)
