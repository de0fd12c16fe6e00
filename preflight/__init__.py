"""preflight: a startup gate for Python services in containers.

Imports nothing heavy: the CLI's hot path must stay close to a bare interpreter.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
