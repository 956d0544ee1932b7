"""An OTLP/HTTP trace receiver for the tests, decoding each `ExportTraceServiceRequest` with the
`opentelemetry-proto` package as a collector would."""

import http.server
import ssl
import threading
import time

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

SERVER = trace_pb2.Span.SpanKind.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SpanKind.SPAN_KIND_CLIENT


class Collector:
    """An OTLP/HTTP trace receiver on a free 127.0.0.1 port; over TLS with an `ssl` context."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None):
        self.spans = []  # (resource attributes, span)
        self.headers = []
        self.lock = threading.Lock()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(body)
                with collector.lock:
                    collector.headers.append(dict(self.headers))
                    for rs in req.resource_spans:
                        resource = attrs(rs.resource.attributes)
                        for ss in rs.scope_spans:
                            for span in ss.spans:
                                collector.spans.append((resource, span))
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def traces(self) -> dict:
        """trace id (hex) -> its spans."""
        with self.lock:
            out = {}
            for _, span in self.spans:
                out.setdefault(span.trace_id.hex(), []).append(span)
            return out

    def wait_for_roots(self, count: int, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            traces = self.traces()
            roots = sum(1 for spans in traces.values() for s in spans if s.kind == SERVER)
            if roots >= count or time.monotonic() >= deadline:
                return traces
            time.sleep(0.1)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attrs(kvs) -> dict:
    return {kv.key: value(kv.value) for kv in kvs}


class GrpcCollector:
    """An OTLP/gRPC trace receiver on a free 127.0.0.1 port; over TLS with server credentials."""

    def __init__(self, credentials=None):
        import concurrent.futures

        import grpc

        self.received = []

        def export(request, context):
            self.received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    export,
                    request_deserializer=trace_service_pb2.ExportTraceServiceRequest.FromString,
                    response_serializer=trace_service_pb2.ExportTraceServiceResponse.SerializeToString,
                )
            },
        )
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
        self.server.add_generic_rpc_handlers((handler,))
        if credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.scheme = "http" if credentials is None else "https"
        self.server.start()

    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def wait_for_spans(self, count: int, timeout: float = 15.0) -> list:
        deadline = time.monotonic() + timeout
        while True:
            spans = [s for r in self.received for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
            if len(spans) >= count or time.monotonic() >= deadline:
                return spans
            time.sleep(0.1)

    def close(self):
        self.server.stop(0)
