"""Waits at import for a service that never answers (here: forever)."""
import threading

threading.Event().wait()
