"""What the python fixtures of tests/lua/socket_clients share: they never outlive the test
that started them, and they announce where they listen only once they accept."""
import os
import threading
import time


def watch(pid):
    """Exits the process once `pid` is gone (checked every 0.5 s)."""
    while True:
        time.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def watch_from_argv(argv, index):
    """Starts watch() on argv[index] if the test passed a pid there."""
    if len(argv) > index:
        threading.Thread(target=watch, args=(int(argv[index]),), daemon=True).start()


def serve_with_port_file(server, port_file):
    """Writes the server's port to `port_file` (atomically: the file appears whole, once
    the server listens), then serves for ever."""
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, port_file)
    server.serve_forever()
