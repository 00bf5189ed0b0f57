"""The Signals definitions' default names and Snowplow Signals' options, without the Signals SDK.

`signals.py` builds the definitions with the SDK (seconds to import); the CLI's flags and warnings and
the studio's form read these facts from here, so `--help` and the quick commands stay light.
"""

from __future__ import annotations

# The names the definitions get unless the user gives others (`signals_definitions`' keywords).
GROUP_NAME = "prospect_scoring"
SERVICE_NAME = "prospect_scoring_service"
VERSION = 1
OWNER = "owner@example.com"
MAX_VERSION = 1_000_000
# How the core's messages name each option; the studio's form puts its own labels in their place.
OPTION_WORDS = {"group_name": "the attribute group name", "service_name": "the service name",
                "version": "the version", "owner": "the owner"}

# Signals credentials, from the environment: Snowplow's Console variables first; the Sandbox's, which
# Snowplow's docs retire, stay accepted. (The scoring service's template reads the same names.)
API_VARIABLES = ("SP_API_URL", "SP_API_KEY", "SP_API_KEY_ID", "SP_ORG_ID")
SANDBOX_VARIABLES = ("SP_SANDBOX_URL", "SP_SANDBOX_TOKEN")
