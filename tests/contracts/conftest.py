"""Helpers for the contract tests: read a PDF back, and a server that must stay unasked."""
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest


@pytest.fixture
def local_server():
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    requests = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — http.server's name
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(port=server.server_address[1], requests=requests)
    server.shutdown()
    server.server_close()


def pdf_text(data, tmp_path):
    path = tmp_path / "contract.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def pdf_fonts(data, tmp_path):
    """{font name: embedded?} as pdffonts lists them."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(data)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    fonts = {}
    for line in listing.splitlines()[2:]:
        columns = line.split()
        # name type… encoding emb sub uni object ID: "emb" is the 5th column from the end.
        fonts[columns[0]] = columns[-5] == "yes"
    return fonts
