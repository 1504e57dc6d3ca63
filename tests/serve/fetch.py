"""fetch.py URL: writes the body of a GET of URL to standard output and exits with 0 for a
status of 200, else with 1 after naming the status on standard error (the body is written
either way). The serve tests use it instead of a client the machine may not have."""
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=90) as answer:
        sys.stdout.buffer.write(answer.read())
        sys.exit(0)
except urllib.error.HTTPError as e:
    sys.stdout.buffer.write(e.read())
    print(f"status {e.code}", file=sys.stderr)
    sys.exit(1)
