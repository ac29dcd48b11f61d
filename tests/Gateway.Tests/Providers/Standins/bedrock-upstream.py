"""A stand-in for Amazon Bedrock's runtime API (Converse and ConverseStream) for the gateway's tests.

Every request's AWS Signature Version 4 is recomputed with botocore's signer from the request as received and the
credentials given on the command line; a mismatch is answered 403 as AWS does. Answers are chosen by the model id:
"throttled" -> ThrottlingException (429), "invalid" -> ValidationException (400), "stream-error" -> an exception
message inside the event stream; otherwise a tool call when tools are offered and the last turn is the user's text,
else a text answer. Streams use AWS event-stream framing, encoded here with zlib's CRC32 independently of the
gateway's decoder. GET /_last returns the last signed request (path and body).

Prints the port it listens on, then serves until killed.
"""
import argparse
import hashlib
import json
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # the test reports this line
    print(f"botocore is not installed (Debian package python3-botocore): {e}", flush=True)
    sys.exit(3)

TEXT = "Hello from Bedrock"
USAGE = {"inputTokens": 11, "outputTokens": 7, "totalTokens": 23, "cacheReadInputTokens": 3, "cacheWriteInputTokens": 2}


def event_header(name, value):
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + bytes([7]) + struct.pack(">H", len(v)) + v


def event_message(headers, payload):
    encoded = b"".join(event_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def event(event_type, body):
    return event_message({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}, json.dumps(body).encode())


def exception(exception_type, message):
    return event_message({":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}, json.dumps({"message": message}).encode())


def wants_tool(body):
    if "toolConfig" not in body:
        return False
    last = body["messages"][-1]
    return last["role"] == "user" and any("text" in block for block in last["content"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def reply(self, status, body, error_type=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_last":
            with self.server.lock:
                self.reply(200, self.server.last or {})
        else:
            self.reply(404, {"message": "not found"})

    def signature_problem(self, body):
        args = self.server.args
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "missing AWS4-HMAC-SHA256 Authorization"
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        scope = fields["Credential"].split("/")
        if scope[0] != args.access_key:
            return "unknown access key"
        amz_date = self.headers.get("X-Amz-Date", "")
        if scope[1] != amz_date[:8] or scope[2] != args.region or scope[3] != "bedrock" or scope[4] != "aws4_request":
            return f"wrong credential scope {fields['Credential']}"
        signed = fields["SignedHeaders"].split(";")
        for required in ("host", "x-amz-date"):
            if required not in signed:
                return f"{required} is not signed"
        if args.session_token:
            if self.headers.get("X-Amz-Security-Token") != args.session_token or "x-amz-security-token" not in signed:
                return "the session token is missing, wrong or unsigned"
        declared = self.headers.get("X-Amz-Content-SHA256")
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            return "x-amz-content-sha256 does not match the body"
        request = AWSRequest(method=self.command, url=f"http://{self.headers['Host']}{self.path}",
                             headers={name: self.headers[name] for name in signed}, data=body)
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(args.access_key, args.secret_key, args.session_token or None), "bedrock", args.region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != fields["Signature"]:
            return "signature mismatch"
        return None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        problem = self.signature_problem(body)
        if problem:
            self.reply(403, {"message": f"The request signature we calculated does not match the signature you provided ({problem})."}, "InvalidSignatureException")
            return
        parts = self.path.split("/")
        if len(parts) != 4 or parts[1] != "model" or parts[3] not in ("converse", "converse-stream"):
            self.reply(404, {"message": f"unknown operation {self.path}"}, "UnknownOperationException")
            return
        model = unquote(parts[2])
        request = json.loads(body)
        with self.server.lock:
            self.server.last = {"path": self.path, "model": model, "body": request}
        if "throttled" in model:
            self.reply(429, {"message": "Too many requests, please wait before trying again."}, "ThrottlingException")
            return
        if "invalid" in model:
            self.reply(400, {"message": "The provided model identifier is invalid."}, "ValidationException")
            return
        tool = wants_tool(request)
        if parts[3] == "converse":
            if tool:
                name = request["toolConfig"]["tools"][0]["toolSpec"]["name"]
                content = [{"toolUse": {"toolUseId": "tooluse_abc", "name": name, "input": {"city": "Paris"}}}]
                stop = "tool_use"
            else:
                content = [{"text": TEXT}]
                stop = "end_turn"
            self.reply(200, {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop, "usage": USAGE, "metrics": {"latencyMs": 12}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.end_headers()
        if "stream-error" in model:
            self.wfile.write(exception("throttlingException", "Too many tokens, please wait before trying again."))
            return
        events = [event("messageStart", {"role": "assistant", "p": "abcd"})]
        if tool:
            name = request["toolConfig"]["tools"][0]["toolSpec"]["name"]
            events.append(event("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "tooluse_abc", "name": name}}}))
            for piece in ['{"city":', ' "Paris"}']:
                events.append(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}}))
            events.append(event("contentBlockStop", {"contentBlockIndex": 0}))
            stop = "tool_use"
        else:
            for piece in ["Hello ", "from ", "Bedrock"]:
                events.append(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
            events.append(event("contentBlockStop", {"contentBlockIndex": 0}))
            stop = "end_turn"
        events.append(event("messageStop", {"stopReason": stop}))
        events.append(event("metadata", {"usage": USAGE, "metrics": {"latencyMs": 12}}))
        for message in events:
            self.wfile.write(message)
            self.wfile.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--session-token", default="")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.args = args
    server.lock = threading.Lock()
    server.last = None
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
