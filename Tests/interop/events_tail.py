#!/usr/bin/env python3
"""Follows a SupportMesh producer's event log (support.events.v1.EventLog/StreamEvents) from
Python grpcio, resuming after the last position seen when the stream ends or breaks: the
subscriber loop of docs/events.md, runnable.

Usage:
  events_tail.py HOST:PORT --api-key-file FILE --producer tickets   through the gateway
  events_tail.py HOST:PORT --caller-secret FILE                      straight to a producer (mesh-internal)
Options: --after N (default 0), --types T1,T2, --until-subject S (exit 0 once an event about S
arrived), --timeout SECONDS (give up, exit 1).
Prints one line per event: position, type, subject, event id.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time

from grpc_tools import protoc
import grpc


def generate(out_dir: str) -> None:
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
    protos = []
    for base, _, files in os.walk(root):
        protos += [os.path.relpath(os.path.join(base, f), root) for f in files if f.endswith(".proto")]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"] + sorted(protos)
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed_caller(secret_file: str, method: str) -> str:
    """The x-supportmesh-caller header a mesh service signs for itself (role service)."""
    with open(secret_file) as f:
        key = f.read().strip().encode()
    claims = {"sub": "events-tail", "role": "service", "scp": [method], "mth": method, "exp": int(time.time()) + 300}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return payload + "." + b64url(mac)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--api-key-file")
    parser.add_argument("--producer", default="")
    parser.add_argument("--caller-secret")
    parser.add_argument("--after", type=int, default=0)
    parser.add_argument("--types", default="")
    parser.add_argument("--until-subject")
    parser.add_argument("--timeout", type=float, default=60)
    options = parser.parse_args()
    method = "support.events.v1.EventLog/StreamEvents"
    give_up = time.monotonic() + options.timeout

    with tempfile.TemporaryDirectory() as out:
        generate(out)
        sys.path.insert(0, out)
        from support.events.v1 import event_log_pb2, event_log_pb2_grpc

        channel = grpc.insecure_channel(options.target)
        log = event_log_pb2_grpc.EventLogStub(channel)
        after = options.after
        types = [t for t in options.types.split(",") if t]
        while time.monotonic() < give_up:
            metadata = []
            if options.api_key_file:
                with open(options.api_key_file) as f:
                    metadata.append(("x-api-key", f.read().strip()))
                metadata.append(("x-supportmesh-producer", options.producer))
            if options.caller_secret:
                metadata.append(("x-supportmesh-caller", signed_caller(options.caller_secret, method)))
            try:
                request = event_log_pb2.StreamEventsRequest(after_position=after, types=types)
                # A tail has no natural deadline; this one stops at --timeout.
                for message in log.StreamEvents(request, metadata=metadata, timeout=max(1, give_up - time.monotonic())):
                    if message.HasField("event"):
                        event = message.event
                        if event.position != after + 1 and not types:
                            print(f"gap: expected {after + 1}, got {event.position}", file=sys.stderr)
                            return 1
                        after = event.position
                        print(f"{event.position}\t{event.type}\t{event.subject}\t{event.event_id}", flush=True)
                        if options.until_subject and event.subject == options.until_subject:
                            return 0
                    else:
                        after = max(after, message.heartbeat.position)
            except grpc.RpcError as error:
                if error.code() in (grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.PERMISSION_DENIED,
                                    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAUTHENTICATED):
                    print(f"stream refused: {error.code()} {error.details()}", file=sys.stderr)
                    return 1
                if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    break
            time.sleep(1)  # the stream ended or broke: resume after `after`
    print("timed out", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
