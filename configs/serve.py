"""The scoring endpoint (repair_rank.jobs.serve): POST /rerank, /rerank.json, /repair.json;
GET /healthz, and GET / (a page to try it in a browser).

  python -m repair_rank.main --config configs/serve.py --config.port=8080
  python -m repair_rank.main --config configs/serve.py --config.scorer=markov_distance
"""
import ml_collections


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """The default endpoint: the bundled model on 127.0.0.1:8080."""
  del arg  # No variants yet.
  config = ml_collections.ConfigDict()
  # Which job runs (name; repair_rank.main.JOBS maps it to repair_rank.jobs.<job>).
  config.job = "serve"
  # Interface to bind (address); 127.0.0.1 keeps the endpoint local, 0.0.0.0 exposes it.
  config.host = "127.0.0.1"
  # TCP port (0 = any free port, printed at start-up).
  config.port = 8080
  # A scorer name of repair_rank.ranking.registry: "model" (scorer.load), "lm" or a baseline.
  config.scorer = "model"
  # Checkpoint of the model scorer (path); "" = the bundled default model.
  config.model_path = ""
  # Keyword options of the scorer's loader or baseline factory (e.g. {"lam": 2.0}).
  config.scorer_options = ml_collections.ConfigDict()
  # Compile / exercise the scorer before serving, so no request pays for compilation (bool).
  config.warmup = True
  # Largest request body (bytes); larger ones get 413.
  config.max_body_bytes = 4 << 20
  # Most candidates in one request (count); more get 413.
  config.max_candidates = 2000
  # Most tokens in the query or one candidate (tokens); longer lines get 413.
  config.max_tokens_per_line = 1024
  # Longest wait for a client's next bytes, and for a request's whole headers and
  # body, however slowly they trickle in (seconds); then 408 and the connection closes.
  config.request_timeout_s = 10.0
  # Longest a kept-alive connection may wait before its next request line is in (seconds).
  config.idle_timeout_s = 10.0
  # Most connections with a request in progress (count): each has a thread. Idle ones
  # (new, or kept alive between requests) wait threadless and do not count; when
  # all are taken the one slowest to send its request is cut.
  config.max_connections = 64
  # Connections beyond max_connections that may still ask GET /healthz (count; 2 s each).
  config.reserve_connections = 8
  # Idle connections held open at most (count); beyond it the oldest idle one is closed.
  config.max_idle_connections = 1024
  # /rerank and /rerank.json bodies up to this size are small (bytes): they run in their
  # own lane and never wait behind larger ones (serving/admission.py).
  config.small_request_bytes = 64 << 10
  # Requests that run at once in each lane: small reranks, large reranks, /repair.json (count).
  config.small_workers = 1
  config.large_workers = 1
  config.repair_workers = 2
  # Requests that may wait for a worker in each lane beyond those running (count); one
  # more gets 503 with Retry-After.
  config.lane_queue = 16
  # Longest a request waits for its lane's worker (seconds); then 503 with Retry-After.
  config.max_queue_wait_s = 30.0
  # On SIGTERM/SIGINT, longest wait for requests in flight before closing them (seconds).
  config.shutdown_grace_s = 10.0
  # POST /repair.json (and the page): largest source (bytes, UTF-8); larger ones get 413.
  config.max_source_bytes = 256 << 10
  # Most repairs one /repair.json request may ask for (count; its "top_k").
  config.max_top_k = 20
  # Largest token edit distance searched for repairs of a source.
  config.max_distance = 3
  # Most candidates generated and scored per repaired source or window (count).
  config.k = 1000
  # Seconds the generator may spend on distances 2..max per source (0 = no limit).
  config.time_budget = 2.0
  # A source of more tokens than this is repaired in a window of about this many
  # tokens around its first error (count; snippets are repaired whole).
  config.window_tokens = 120
  # POST /repair.json reports up to this many syntax errors of a source: after the first,
  # its top repair is made and the source diagnosed again (count; its "errors" list).
  config.max_errors = 5
  # Log one line per request (bool).
  config.access_log = False
  # Log JAX devices at start-up (bool).
  config.log_devices = False
  return config
