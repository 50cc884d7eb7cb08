"""The audit engine. Importing it first sets the offline environment (auditor/offline.py)."""
from auditor.offline import enforce_offline

enforce_offline()   # before anything below or any caller imports onnxruntime, transformers or torch
