"""`zerogate up`'s terminal log: zerogate.* from INFO, one line per record, fields as key=value;
other loggers (uvicorn's) are left as they were."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from zerogate.app._terminal_log import LOGGER, log_to_terminal


@pytest.fixture
def restored() -> Iterator[None]:
    """Put the zerogate logger back as it was (the handler is process-wide)."""
    logger = logging.getLogger(LOGGER)
    handlers, level = list(logger.handlers), logger.level
    try:
        yield
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.mark.usefixtures("restored")
def test_terminal_log_shows_zerogate_info_on_one_line_with_its_fields() -> None:
    out = io.StringIO()
    log_to_terminal(out)
    log_to_terminal(out)  # set up twice (in-process runs): still one line per record
    log = logging.getLogger("zerogate.app")
    log.info("routes reloaded", extra={"routes": ["app", "wiki"]})
    log.debug("not shown")
    log.warning("odd %s", "value", extra={"reason": "two words", "empty": "", "n": 3})
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "INFO zerogate.app routes reloaded routes=app,wiki",
        "WARNING zerogate.app odd value reason='two words' empty='' n=3",
    ]
    assert all(line[:8].replace(":", "").isdigit() for line in lines)  # HH:MM:SS first


@pytest.mark.usefixtures("restored")
def test_terminal_log_keeps_a_traceback_below_its_line_and_leaves_other_loggers_alone() -> None:
    out = io.StringIO()
    uvicorn = logging.getLogger("uvicorn.access")
    before = (uvicorn.level, list(uvicorn.handlers))
    log_to_terminal(out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("zerogate.tokens").exception("refresh failed", extra={"tries": 2})
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("ERROR zerogate.tokens refresh failed tries=2")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "RuntimeError: boom"
    assert (uvicorn.level, list(uvicorn.handlers)) == before
    logging.getLogger("other").warning("not ours")
    assert "not ours" not in out.getvalue()
