#!/usr/bin/env python3
"""Real servers for the notification tests, on loopback only.

An SMTP server (aiosmtpd) that requires STARTTLS and AUTH (user "flywall", password from --password),
and an HTTPS webhook receiver; both use the test-made certificate. Every mail is written to
OUT/mail-N.json (envelope, subject, body, auth login), every POST to OUT/hook-N.json (headers, body,
whether X-Flywall-Signature is a valid HMAC-SHA256 of "<timestamp>.<body>" under --secret).
The chosen ports go to OUT/ports.json. Behaviour switches are files in OUT: `hook-hang` makes the
webhook receiver never answer, `hook-fail` makes it answer 503.
"""
import argparse, asyncio, hashlib, hmac, json, os, ssl, sys, threading, time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--smtp-port", type=int, default=0)
parser.add_argument("--smtp-host", default="127.0.0.1")
parser.add_argument("--https-port", type=int, default=0)
parser.add_argument("--https-host", default="127.0.0.1")
parser.add_argument("--password", default="smtp-pass-123")
parser.add_argument("--secret", default="")
parser.add_argument("--no-smtp", action="store_true", help="the HTTPS receiver only (aiosmtpd not needed)")
args = parser.parse_args()
counter = {"mail": 0, "hook": 0}
lock = threading.Lock()


def write(kind, record):
    with lock:
        counter[kind] += 1
        path = os.path.join(args.out, f"{kind}-{counter[kind]}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.rename(path + ".tmp", path)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(args.cert, args.key)


smtp = None
if not args.no_smtp:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            mail = message_from_bytes(envelope.original_content)
            login = getattr(session, "flywall_login", None)
            write("mail", {"from": envelope.mail_from, "to": envelope.rcpt_tos, "subject": mail["Subject"],
                           "body": mail.get_payload(decode=True).decode("utf-8"), "tls": session.ssl is not None,
                           "login": login, "time": time.time()})
            return "250 OK"


    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"flywall" and auth_data.password == args.password.encode()
        if ok:
            session.flywall_login = auth_data.login.decode()
        return AuthResult(success=ok, handled=False)


    smtp = Controller(Handler(), hostname=args.smtp_host, port=args.smtp_port or 0, tls_context=context,
                      require_starttls=True, authenticator=authenticator, auth_required=True)
    if args.smtp_port == 0:
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); smtp.port = s.getsockname()[1]; s.close()
    smtp.start()



class Hook(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if os.path.exists(os.path.join(args.out, "hook-hang")):
            time.sleep(3600)
            return
        stamp = self.headers.get("X-Flywall-Timestamp", "")
        expected = "sha256=" + hmac.new(args.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        fail = os.path.exists(os.path.join(args.out, "hook-fail"))
        write("hook", {"path": self.path, "headers": dict(self.headers.items()), "body": body.decode("utf-8"),
                       "signature_valid": hmac.compare_digest(self.headers.get("X-Flywall-Signature", ""), expected),
                       "answered": 503 if fail else 200, "time": time.time()})
        self.send_response(503 if fail else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


https = ThreadingHTTPServer((args.https_host, args.https_port), Hook)
https.daemon_threads = True
https.socket = context.wrap_socket(https.socket, server_side=True)
with open(os.path.join(args.out, "ports.json.tmp"), "w") as f:
    json.dump({"smtp": smtp.port if smtp else 0, "https": https.server_address[1]}, f)
os.rename(os.path.join(args.out, "ports.json.tmp"), os.path.join(args.out, "ports.json"))
try:
    https.serve_forever()
finally:
    if smtp:
        smtp.stop()
