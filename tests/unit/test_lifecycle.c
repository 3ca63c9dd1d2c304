/* test_lifecycle.c -- which pipeline statuses are decided on, and the fingerprint that tells
 * a new Pipeline Hook from an echo and an older one from a newer one. */
#include "lifecycle.h"
#include "unit.h"
#include "util.h"

static void check_kinds(void)
{
    static const struct {
        const char *status;
        enum tg_lifecycle_kind want;
    } rows[] = {
        {"success", TG_LIFECYCLE_TERMINAL}, {"failed", TG_LIFECYCLE_TERMINAL}, {"canceled", TG_LIFECYCLE_TERMINAL},
        {"skipped", TG_LIFECYCLE_TERMINAL}, {"manual", TG_LIFECYCLE_MANUAL}, {"running", TG_LIFECYCLE_PASSING},
        {"created", TG_LIFECYCLE_PASSING}, {"waiting_for_resource", TG_LIFECYCLE_PASSING},
        {"preparing", TG_LIFECYCLE_PASSING}, {"waiting_for_callback", TG_LIFECYCLE_PASSING},
        {"pending", TG_LIFECYCLE_PASSING}, {"canceling", TG_LIFECYCLE_PASSING},
        {"scheduled", TG_LIFECYCLE_PASSING}, {"success_with_warnings", TG_LIFECYCLE_PASSING}, /* unknown */
        {"", TG_LIFECYCLE_PASSING}, {NULL, TG_LIFECYCLE_PASSING},
    };
    for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++)
        UNIT_CHECK(rows[i].status ? rows[i].status : "(null)", tg_lifecycle_kind(rows[i].status) == rows[i].want);
}

static struct tg_lifecycle_print print_of(struct tg_build *b, size_t n)
{
    struct tg_event e = {.builds = b, .nbuilds = n};
    struct tg_lifecycle_print p;
    tg_lifecycle_fingerprint(&e, &p);
    return p;
}

static void check_fingerprint(void)
{
    struct tg_build first[] = {{10, "build", "build", "success"}, {11, "trivy-scan", "test", "failed"}};
    struct tg_build reordered[] = {{11, "trivy-scan", "test", "failed"}, {10, "build", "build", "success"}};
    struct tg_build with_own[] = {{10, "build", "build", "success"}, {11, "trivy-scan", "test", "failed"},
                                  {99, "tollgate/production", "external", "failed"}};
    struct tg_build retried[] = {{10, "build", "build", "success"}, {12, "trivy-scan", "test", "success"}};
    struct tg_build status_only[] = {{10, "build", "build", "success"}, {11, "trivy-scan", "test", "success"}};
    struct tg_lifecycle_print a = print_of(first, 2), b = print_of(reordered, 2), c = print_of(with_own, 3),
                              d = print_of(retried, 2), e = print_of(status_only, 2), none = print_of(NULL, 0);
    UNIT_STREQ("order does not matter", a.builds, b.builds);
    UNIT_STREQ("tollgate's own status is left out", a.builds, c.builds);
    UNIT_CHECK("own status not in rank", c.rank == 11);
    UNIT_CHECK("a retry differs", strcmp(a.builds, d.builds) != 0 && d.rank == 12 && a.rank == 11);
    UNIT_CHECK("a status change differs", strcmp(a.builds, e.builds) != 0 && e.rank == a.rank);
    UNIT_CHECK("no builds", none.rank == 0 && strlen(none.builds) == 64);
    UNIT_CHECK("own status", tg_lifecycle_own_status("tollgate/staging") && !tg_lifecycle_own_status("tollgate") &&
                                 !tg_lifecycle_own_status(NULL));
}

int main(void)
{
    check_kinds();
    check_fingerprint();
    return unit_summary("test_lifecycle");
}
