"""Starts a metrics helper process at import time, as some agents do."""
import subprocess

helper = subprocess.Popen(["sleep", "600"])
