"""The agent console: a static single page at /console/ over the JSON APIs (no build step).

The page itself is public; every action it takes goes through the token-checked APIs, so
the server, not the page, decides what each role may see and do.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"
FILES = {
    "console.js": "text/javascript",
    "admin.js": "text/javascript",
    "console.css": "text/css",
    "inbox.js": "text/javascript",
    "inbox.css": "text/css",
}
# Only our own files run: no inline script, no third-party origin, no framing.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)


@router.get("")
async def console_redirect() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/")
async def console_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/{name}")
async def console_file(name: str) -> FileResponse:
    media_type = FILES.get(name)
    if media_type is None:
        raise HTTPException(404, f"no console file {name}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=HEADERS)
