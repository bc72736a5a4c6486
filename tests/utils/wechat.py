"""WeChat's side of the protocol, written independently of connectors/wechat/: signing and
encrypting pushes as WeChat does (hashlib and raw AES-CBC from `cryptography`, own PKCS#7),
and a fake WeChat API server (a real HTTP server on loopback, in a thread).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.messages import BotReply, Option, UserMessage

TOKEN = "govbotTestToken2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the console issues them
OTHER_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
OPENID = "oUser_abcdefghijklmnopqrstu"


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def aes_key_bytes(aes_key: str = AES_KEY) -> bytes:
    return base64.b64decode(aes_key + "=")


def wx_encrypt(
    message: str, app_id: str, aes_key: str = AES_KEY, *, prefix: bytes = b"R" * 16, pad_to: int = 32
) -> str:
    """WeChat's envelope, built by hand: prefix, 4-byte length, message, app id, PKCS#7 to 32."""
    key = aes_key_bytes(aes_key)
    body = message.encode()
    plain = prefix + len(body).to_bytes(4, "big") + body + app_id.encode()
    pad = pad_to - len(plain) % pad_to
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def wx_encrypt_raw(plain: bytes, aes_key: str = AES_KEY) -> str:
    """Encrypt already padded bytes (to forge bad padding or lengths)."""
    key = aes_key_bytes(aes_key)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def wx_decrypt(encrypted: str, aes_key: str = AES_KEY) -> tuple[str, str]:
    """(message, app id) from an envelope, as WeChat reads a passive reply."""
    key = aes_key_bytes(aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    length = int.from_bytes(plain[16:20], "big")
    return plain[20 : 20 + length].decode(), plain[20 + length :].decode()


def text_xml(
    app_id: str = "gh_account", content: str = "居住证怎么办理", msg_id: str = "1001", **extra: str
) -> str:
    fields = {
        "ToUserName": app_id,
        "FromUserName": OPENID,
        "CreateTime": str(int(time.time())),
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id,
        **extra,
    }
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<xml>{inner}</xml>"


def plain_query(token: str = TOKEN, timestamp: int | None = None, nonce: str = "48151623") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"signature": sha1_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}


def encrypted_push(
    inner: str,
    app_id: str,
    *,
    json_body: bool = False,
    plain_copy: str = "",
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    timestamp: int | None = None,
) -> tuple[dict[str, str], str]:
    """(query, body) of a compat/safe push; `plain_copy` adds the compat-mode plaintext fields."""
    envelope = wx_encrypt(inner, app_id, aes_key)
    query = plain_query(token, timestamp)
    query["encrypt_type"] = "aes"
    query["msg_signature"] = sha1_signature(token, query["timestamp"], query["nonce"], envelope)
    if json_body:
        body = json.dumps({"ToUserName": "gh_mini", "Encrypt": envelope})
    else:
        copy = plain_copy[len("<xml>") : -len("</xml>")] if plain_copy else ""
        head = "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>"
        body = f"{head}{copy}<Encrypt><![CDATA[{envelope}]]></Encrypt></xml>"
    return query, body


@dataclass
class FakeOnMessage:
    """Stands in for the bot: records each message and answers after an optional delay."""

    delay: float = 0.0
    reply_text: str = ""
    options: list[Option] = field(default_factory=list)
    error: Exception | None = None
    calls: list[UserMessage] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> BotReply:
        import asyncio

        self.calls.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        text = self.reply_text or f"关于“{message.text}”的答复。"
        return BotReply(action="answer", intent="ask_service", reply=text, options=self.options)


@dataclass
class FakeWeChatApi:
    """State of the fake API server; tests flip `failing` and call `expire_tokens()`."""

    app_secrets: dict[str, str]
    expires_in: int = 7200
    failing: bool = False  # answer 500 to everything
    errcode: int = 0  # answer this errcode to sends (e.g. 45015)
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def handle(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.failing:
                return 500, {"error": "down"}
            if method == "GET" and path == "/cgi-bin/token":
                if self.app_secrets.get(query.get("appid", "")) != query.get("secret"):
                    return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
                self.token_requests += 1
                token = f"token-{self.token_requests}"
                self.tokens.add(token)
                return 200, {"access_token": token, "expires_in": self.expires_in}
            if method == "POST" and path == "/cgi-bin/message/custom/send":
                if query.get("access_token") not in self.tokens:
                    return 200, {"errcode": 40001, "errmsg": "invalid credential"}
                if self.errcode:
                    return 200, {"errcode": self.errcode, "errmsg": "refused"}
                self.sent.append(json.loads(body))
                return 200, {"errcode": 0, "errmsg": "ok"}
            return 404, {"errcode": 404}

    def contents(self) -> list[str]:
        with self.lock:
            return [m["text"]["content"] for m in self.sent]


class FakeWeChatServer:
    """A real HTTP server on a loopback port; `stop()` makes the port refuse connections."""

    def __init__(self, api: FakeWeChatApi) -> None:
        self.api = api
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        api = self.api

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                status, data = api.handle(method, url.path, query, self.rfile.read(length))
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def fake_wechat(app_secrets: dict[str, str], **options: Any) -> Iterator[FakeWeChatServer]:
    """A started fake server, stopped afterwards."""
    server = FakeWeChatServer(FakeWeChatApi(app_secrets=app_secrets, **options))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


async def async_wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()
