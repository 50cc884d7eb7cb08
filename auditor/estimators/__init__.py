"""The maths of the checks, free of model code: plain numpy arrays in, numbers out."""
