"""What the Spark tests need from the machine: Java. Skip without it; under `make test`
(ADOPTION_REQUIRE_SPARK) fail instead, since `make java` installs it."""
from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["require_java"]


def require_java() -> None:
    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        return
    message = "java missing: Spark needs Java 17 or newer (`make java` installs Debian's openjdk-17-jre-headless)"
    if os.environ.get("ADOPTION_REQUIRE_SPARK"):
        pytest.fail(message)
    pytest.skip(message)
