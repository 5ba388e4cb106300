"""The bench's HTTP client: what a browser behind a TLS-terminating proxy sends."""

import http.client
from http.cookies import SimpleCookie
from urllib.parse import urlencode


class HttpSession:
    """A sequential keep-alive HTTP/1.1 client with a cookie jar, sending what a browser
    behind a TLS-terminating proxy would (X-Forwarded-Proto: https)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, data: dict | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        headers = {
            "Host": "127.0.0.1",
            "X-Forwarded-Proto": "https",
            "User-Agent": "resolve-bench",
            "Accept": "text/html",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"https://127.0.0.1{path}"
            headers["Origin"] = "https://127.0.0.1"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return response.status, payload, dict(response.headers.items())
