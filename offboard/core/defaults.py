"""The defaults and bounds that `offboard --help` shows.

Kept in a module that imports nothing, so that the help costs no more than
click: plan/guards.py, source/leaving.py, restore/plan.py and core/settings.py apply them, and
import them from here; cli/options.py shows them in the help.
"""

DEFAULT_BASE_URL = "https://api.gcore.com"

# Safe for the real API, whose limits Gcore does not publish (contract).
DEFAULTS: dict[str, float | int] = {
    "rate": 5.0,
    "concurrency": 4,
    "max_attempts": 5,
    "timeout": 30.0,
    "max_consecutive_failures": 10,
}
# The numeric options, as the Job holds them (Job.numbers) and every command takes them.
NUMBERS = ("rate", "concurrency", "max_attempts", "timeout", "max_consecutive_failures")

# A typical HR batch is a handful of people; a file with far more rows than
# expected is more likely a wrong export than a layoff. Raise it deliberately.
DEFAULT_MAX_REVOCATIONS = 50
DEFAULT_MAX_RESTORES = 50  # invites one restore may send unless --max-restores says more
DEFAULT_ACTIVE_DAYS = 7  # warn of leavers without a leave_date who signed in this recently
MAX_ACTIVE_DAYS = 3650
