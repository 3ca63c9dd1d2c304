/* test_trigger.c -- backoff with full jitter: bounds per attempt, the cap, Retry-After. */
#include "trigger.h"
#include "unit.h"

struct row {
    const char *name;
    int attempt;
    uint64_t retry_after, random;
    uint64_t want;
};

/* base 1 s, cap 5 min, as the shipped defaults */
static const struct row rows[] = {
    {"first retry, random 0", 1, 0, 0, 0},
    {"first retry, largest", 1, 0, 1000, 1000},
    {"first retry wraps at ceiling+1", 1, 0, 1001, 0},
    {"third retry, ceiling 4 s", 3, 0, 4000, 4000},
    {"third retry, inside", 3, 0, 2500, 2500},
    {"ninth retry: 2^8 s", 9, 0, 256000, 256000},
    {"tenth retry capped at 5 min", 10, 0, 300000, 300000},
    {"cap holds for huge attempts", 60, 0, 300001, 0},
    {"retry-after wins over a short jitter", 2, 30000, 10, 30000},
    {"jitter wins over a short retry-after", 5, 1000, 9000, 9000},
};

int main(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        UNIT_CHECK(r->name, tg_trigger_backoff(1000, 300000, r->attempt, r->retry_after, r->random) == r->want);
    }
    for (int a = 1; a <= 12; a++) { /* every delay stays within [0, min(cap, base*2^(a-1))] */
        uint64_t ceiling = 1000ULL << (a - 1) < 300000 ? 1000ULL << (a - 1) : 300000;
        for (uint64_t rnd = 0; rnd < 1000000; rnd += 7919)
            UNIT_CHECK("bounded", tg_trigger_backoff(1000, 300000, a, 0, rnd) <= ceiling);
    }
    return unit_summary("test_trigger");
}
