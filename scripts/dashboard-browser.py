#!/usr/bin/env python3
"""Drives headless Chromium (Debian's `chromium`) through a page over the DevTools protocol, on a
pipe (--remote-debugging-pipe), so it needs nothing beyond Python's standard library.

    dashboard-browser.py URL STEPS

STEPS is a JSON list, run in order on one page load (the page is never reloaded):
    {"until": "JS expression", "timeout": 20}   wait until it is truthy (checked every 100 ms)
    {"eval": "JS expression", "name": "before"} its value (JSON) goes into the result under name
    {"type": "text", "into": "#css-selector"}   focus the element and type the text
    {"sleep": 2}                                wait that many seconds
    {"screenshot": "file.png"}                  the whole page as PNG
Prints one JSON object: the named values, and "errors": every uncaught exception, console error
and Content-Security-Policy violation the page reported. Exit 1 (with a message on stderr) when a
step times out or throws. Chromium may reach loopback only: every other host is unresolvable and
every other address goes to a dead proxy, so it never talks to the network (updates, metrics).
CHROMIUM_LOG=FILE keeps Chromium's own messages (otherwise discarded).
"""
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

WIDTH, HEIGHT = 1280, 900
HARD_LIMIT = 180  # seconds for the whole run, whatever the steps say


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="flywall-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # Chromium reads commands on fd 3 and writes answers on fd 4. Copies first, so one
            # pipe end that already is 3 or 4 is not overwritten before it is moved.
            read_end, write_end = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [
            shutil.which("chromium") or "chromium",
            "--headless", "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
            "--window-size=%d,%d" % (WIDTH, HEIGHT), "--hide-scrollbars", "--disable-gpu",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
            "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-pings",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
            "--proxy-server=http://127.0.0.1:9", "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        self.process = subprocess.Popen(args, close_fds=False, preexec_fn=child_fds,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=open(os.environ.get("CHROMIUM_LOG", os.devnull), "w"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        self.errors = []

    def close(self):
        try:
            self.process.terminate()
            self.process.wait(timeout=5)
        except Exception:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"].get("message")))
                return reply.get("result", {})
            self.note(reply)

    def receive(self, timeout=30):
        end = time.time() + timeout
        while b"\0" not in self.buffer:
            left = end - time.time()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                raise RuntimeError("chromium did not answer within %ss" % timeout)
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium exited")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def note(self, event):
        """Keeps what the page reported as an error."""
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append("exception: " + (d.get("exception", {}).get("description") or d.get("text", "?")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + params["entry"].get("text", "?"))

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            raise RuntimeError("%s: %s" % (expression[:80], d.get("exception", {}).get("description") or d.get("text")))
        return result.get("result", {}).get("value")

    def screenshot(self, path):
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": WIDTH, "height": min(int(size["height"]) + 1, 8000), "scale": 1}
        shot = self.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))


def run(url, steps):
    browser = Browser()
    result = {}
    try:
        browser.open(url)
        for step in steps:
            if "until" in step:
                end = time.time() + float(step.get("timeout", 20))
                # False while the page is still loading (the expression may throw then).
                check = "(() => { try { return !!(%s); } catch (e) { return false; } })()" % step["until"]
                while not browser.evaluate(check):
                    if time.time() > end:
                        raise RuntimeError("timed out after %ss waiting for: %s" % (step.get("timeout", 20), step["until"]))
                    time.sleep(0.1)
            elif "eval" in step:
                result[step.get("name", "value")] = browser.evaluate(step["eval"])
            elif "type" in step:
                browser.evaluate("document.querySelector(%s).focus()" % json.dumps(step["into"]))
                browser.send("Input.insertText", {"text": step["type"]})
            elif "sleep" in step:
                time.sleep(min(float(step["sleep"]), 60))
            elif "screenshot" in step:
                browser.screenshot(step["screenshot"])
            else:
                raise RuntimeError("unknown step: %s" % json.dumps(step))
        browser.send("Runtime.evaluate", {"expression": "0"})  # collects the events still queued
        result["errors"] = browser.errors
        return result
    finally:
        browser.close()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    import signal
    signal.alarm(HARD_LIMIT)
    try:
        print(json.dumps(run(sys.argv[1], json.loads(sys.argv[2]))))
    except Exception as e:
        sys.exit("dashboard-browser: %s" % e)


if __name__ == "__main__":
    main()
