#!/usr/bin/env bash
# The long fuzzing profile of tests/test_fuzz.py (3000 examples per test, random seeds;
# about a minute on 2 cores). CI runs the derandomized "ci" profile with every pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
HYPOTHESIS_PROFILE=long exec pytest tests/test_fuzz.py -p no:cacheprovider "$@"
