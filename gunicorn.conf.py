"""gunicorn settings; every knob can be set from the environment."""

import functools
import ipaddress
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread: a request mostly waits on PostgreSQL and Redis (a session lookup, the integrations
# query, the limiter's counter), and connect/refresh wait seconds on providers; threads keep
# the CPU busy meanwhile, where a sync worker idles. With both 1 ms away, 2 workers x 4 threads
# served ~1.8x what 2 sync workers did, and as much as 5 sync workers in 2/5 of the memory
# (deploy/bench/worker-models.sh, 2 cores); on loopback they are even. gthread also keeps
# nginx's upstream connections alive, where a sync worker closes each one.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# SIGTERM: stop accepting, finish requests in flight (up to this long), then exit.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Longer than nginx's upstream keepalive_timeout (4 s, deploy/snippets/): nginx closes an idle
# connection first, so it never sends a request on one gunicorn is closing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Above nginx's 16 KB per header (NextAuth's chunked session cookies), so nginx's limit is the
# one that applies and answers in the API's error shape.
limit_request_field_size = 20480
preload_app = True
accesslog = None  # the app writes one JSON line per request itself
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")

# Forwarding headers count only from the proxy (nginx on this host by default). gunicorn itself
# uses them for the scheme alone; ProxyFix in the app believes X-Forwarded-* from any peer, so
# pre_request drops them from everyone else (a client reaching gunicorn directly cannot pick
# the IP its rate limit counts). nginx sets X-Forwarded-Proto only, hence one scheme header.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
_FORWARDING_HEADERS = ("X-FORWARDED-", "FORWARDED")

# gunicorn opens a control socket at one path per user by default: the second instance on a
# host would take over the first's, and stopping either would delete it. Off unless given.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket

# prometheus-client multiprocess mode: every worker writes its metrics to files in this
# directory and /metrics sums them. It must be set before the app (and the client) is imported,
# and start empty so a restart does not resurrect old counts.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
    tempfile.gettempdir(), f"integrations-metrics-{os.getpid()}"
)
shutil.rmtree(_metrics_dir, ignore_errors=True)
os.makedirs(_metrics_dir, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def pre_fork(server, worker):
    """What the master preloaded (the app, its modules) moves out of the collector's reach
    before each fork, as Python's gc.freeze() documents: workers neither scan it at every full
    collection nor copy the pages it lives on."""
    import gc

    gc.freeze()


def post_fork(server, worker):
    """Connections opened while preloading belong to the master: each worker opens its own."""
    from webapp.database import dispose_engines

    with server.app.callable.app_context():
        dispose_engines(close=False)


def pre_request(worker, req):
    """Drop X-Forwarded-* and Forwarded unless the peer is a trusted proxy."""
    peer = req.peer_addr  # (host, port, ...) over TCP; a Unix socket only admits local processes
    allowed = tuple(worker.cfg.forwarded_allow_ips)
    if isinstance(peer, tuple) and not _trusted_proxy(peer[0], allowed):
        req.headers = [(n, v) for n, v in req.headers if not n.startswith(_FORWARDING_HEADERS)]


@functools.lru_cache(maxsize=256)
def _trusted_proxy(host, allowed):
    if "*" in allowed:
        return True
    address = ipaddress.ip_address(host)
    return any(address in ipaddress.ip_network(network) for network in allowed)


def child_exit(server, worker):
    """A dead worker's live gauges must not be summed any more."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """The metrics directory made up for this master goes with it."""
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
