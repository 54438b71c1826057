#!/usr/bin/env bash
# The long fuzzing profile of tests/test_fuzz.py (3000 examples per test, random seeds;
# about a minute on 2 cores). CI runs the derandomized "ci" profile with every pytest.
# Then the loader fuzz of tests/test_edges_stats.py (crafted and corrupted .npz files for
# Network.load and SampleStats.load): DROPENGINE_FUZZ_EXAMPLES examples per test, random
# seeds (CI runs 80, derandomized); about 7 minutes at 3000 on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
HYPOTHESIS_PROFILE=long pytest tests/test_fuzz.py -p no:cacheprovider "$@"
DROPENGINE_FUZZ_EXAMPLES="${DROPENGINE_FUZZ_EXAMPLES:-3000}" \
    pytest tests/test_edges_stats.py -k fuzz -p no:cacheprovider "$@"
