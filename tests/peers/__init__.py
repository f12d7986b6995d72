"""OpenID-certified peers (openid-client RP, oidc-provider upstream OP) driven from Python tests.

docs/peers.md describes both peers; the helpers live in `tests.peers._node`, the pytest fixtures
in `tests.peers.fixtures`.
"""
