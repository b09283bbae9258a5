# A minimal Fastly service for running the generated vcl_log snippet in falco's simulator.
backend F_origin {
  .host = "127.0.0.1";
  .port = "__ORIGIN_PORT__";
}

sub vcl_recv {
#FASTLY recv
  set req.backend = F_origin;
  return(pass);
}

sub vcl_fetch {
#FASTLY fetch
  return(deliver);
}

sub vcl_deliver {
#FASTLY deliver
  # Test transport only: bytes HTTP cannot carry in a header arrive percent-encoded in
  # X-Enc-<name> and are decoded here, after the fetch (falco will not forward control bytes to an
  # origin). Like Fastly, setting a header keeps only what precedes the first line feed.
__DECODE__
  return(deliver);
}

sub vcl_log {
#FASTLY log
__SNIPPET__
}
