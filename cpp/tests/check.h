// Minimal assertion helpers for the ctest suite (no framework dependency).
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>

static int g_failures = 0;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++g_failures;                                                      \
        }                                                                      \
    } while (0)
#define CHECK_NEAR(a, b, tol) CHECK(std::fabs((a) - (b)) <= (tol))
#define CHECK_THROWS(expr)                    \
    do {                                      \
        bool thrown_ = false;                 \
        try { expr; } catch (...) { thrown_ = true; } \
        CHECK(thrown_);                       \
    } while (0)
inline int finish(const char* name) {
    if (g_failures) std::fprintf(stderr, "%s: %d failure(s)\n", name, g_failures);
    else std::printf("%s: ok\n", name);
    return g_failures ? 1 : 0;
}
