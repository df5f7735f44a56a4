#!/usr/bin/env bash
# The README's demo command: installs what is missing, builds examples/quickstart.cpp and runs it.
# The quickstart caches in memory, so no Redis server is involved.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash cmake/install-deps.sh

build=${CACHET_BUILD_DIR:-build/demo}
cmake --fresh -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DCACHET_BUILD_TESTS=OFF -DCACHET_BUILD_BENCHMARKS=OFF -DCACHET_BUILD_EXAMPLES=ON \
  -DCACHET_WERROR=OFF  # a demo should not stop at a new compiler warning
cmake --build "$build" -j"$(nproc)" --target example_quickstart
echo "---- $build/examples/quickstart ----"
"$build/examples/quickstart"
