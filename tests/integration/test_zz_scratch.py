import hashlib, os, socket, subprocess
from helpers import *
def test_servers(test_ca, https_server, tls_echo, client_tls_ctx, curl, deferred_echo, openssl_cli):
    cp = subprocess.run([curl, "-sS", "--cacert", test_ca["ca"], "--resolve", "web.test:%d:127.0.0.1" % https_server.port, "https://web.test:%d/x" % https_server.port], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"hello web.test:%d /x\n" % https_server.port
    s = socket.create_connection(("127.0.0.1", tls_echo.port))
    s = client_tls_ctx.wrap_socket(s, server_hostname="echo.test")
    d = os.urandom(1<<20)
    assert exchange(s, d) == d
    s.close()
    s = socket.create_connection(("127.0.0.1", deferred_echo.port))
    s.sendall(b"abc"*1000); s.shutdown(socket.SHUT_WR)
    assert read_to_eof(s) == b"abc"*1000
