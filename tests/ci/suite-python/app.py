"""The application under test. Each function blocks the event loop on the file system: the
calls the CI gate is there to catch. Both read a file with open(), through the same call sites
of the interpreter: only their Python functions tell them apart."""


def load_config():
    with open(__file__, encoding="utf-8") as f:
        return len(f.read())


def check_template():
    with open(__file__, encoding="utf-8") as f:
        return f.readline().startswith('"""')
