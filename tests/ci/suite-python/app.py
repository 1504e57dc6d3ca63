"""The application under test. Each function blocks the event loop on the file system: the
calls the CI gate is there to catch."""
import os


def load_config():
    with open(__file__, encoding="utf-8") as f:
        return len(f.read())


def check_template():
    return os.access(__file__, os.R_OK)
