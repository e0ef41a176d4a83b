"""The dashboard's security headers, one source for the local server and CloudFront.

app/dashboard.py sends them with every file it serves; infra/frontend.py puts the same values
in the distribution's response headers policy. A Content-Security-Policy without
`unsafe-inline` or `unsafe-eval`, no framing, no referrer (links carry tokens), no sniffing.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'"))
FRAME_OPTIONS = "DENY"
REFERRER_POLICY = "no-referrer"
CROSS_ORIGIN_OPENER_POLICY = "same-origin"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": FRAME_OPTIONS,
    "Referrer-Policy": REFERRER_POLICY,
    "Cross-Origin-Opener-Policy": CROSS_ORIGIN_OPENER_POLICY,
    "Permissions-Policy": PERMISSIONS_POLICY,
}
