/* test_lifecycle.c -- which pipeline statuses are decided on, and the fingerprint that tells
 * a new Pipeline Hook from an echo and an older one from a newer one. */
#include "deliver/lifecycle.h"
#include "unit.h"
#include "base/util.h"

static void check_kinds(void)
{
    static const struct {
        const char *status;
        enum tg_lifecycle_kind want;
    } rows[] = {
        {"success", TG_LIFECYCLE_TERMINAL},
        {"failed", TG_LIFECYCLE_TERMINAL},
        {"canceled", TG_LIFECYCLE_TERMINAL},
        {"skipped", TG_LIFECYCLE_TERMINAL},
        {"manual", TG_LIFECYCLE_MANUAL},
        {"running", TG_LIFECYCLE_PASSING},
        {"created", TG_LIFECYCLE_PASSING},
        {"waiting_for_resource", TG_LIFECYCLE_PASSING},
        {"preparing", TG_LIFECYCLE_PASSING},
        {"waiting_for_callback", TG_LIFECYCLE_PASSING},
        {"pending", TG_LIFECYCLE_PASSING},
        {"canceling", TG_LIFECYCLE_PASSING},
        {"scheduled", TG_LIFECYCLE_PASSING},
        {"success_with_warnings", TG_LIFECYCLE_PASSING}, /* unknown */
        {"", TG_LIFECYCLE_PASSING},
        {NULL, TG_LIFECYCLE_PASSING},
    };
    for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++)
        UNIT_CHECK(rows[i].status ? rows[i].status : "(null)",
                   tg_lifecycle_kind(rows[i].status) == rows[i].want);
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
    struct tg_build first[] = {{10, "build", "build", "success", 0},
                               {11, "trivy-scan", "test", "failed", 0}};
    struct tg_build reordered[] = {{11, "trivy-scan", "test", "failed", 0},
                                   {10, "build", "build", "success", 0}};
    struct tg_build with_own[] = {{10, "build", "build", "success", 0},
                                  {11, "trivy-scan", "test", "failed", 0},
                                  {99, "tollgate/production", "external", "failed", 0}};
    struct tg_build retried[] = {{10, "build", "build", "success", 0},
                                 {12, "trivy-scan", "test", "success", 0}};
    struct tg_build status_only[] = {{10, "build", "build", "success", 0},
                                     {11, "trivy-scan", "test", "success", 0}};
    struct tg_lifecycle_print a = print_of(first, 2), b = print_of(reordered, 2),
                              c = print_of(with_own, 3), d = print_of(retried, 2),
                              e = print_of(status_only, 2), none = print_of(NULL, 0);
    UNIT_STREQ("order does not matter", a.builds, b.builds);
    UNIT_STREQ("tollgate's own status is left out", a.builds, c.builds);
    UNIT_CHECK("own status not in rank", c.rank == 11);
    UNIT_CHECK("a retry differs", strcmp(a.builds, d.builds) != 0 && d.rank == 12 && a.rank == 11);
    UNIT_CHECK("a status change differs", strcmp(a.builds, e.builds) != 0 && e.rank == a.rank);
    UNIT_CHECK("no builds", none.rank == 0 && strlen(none.builds) == 64);
    UNIT_CHECK("own status", tg_lifecycle_own_status("tollgate/staging") &&
                                 !tg_lifecycle_own_status("tollgate") &&
                                 !tg_lifecycle_own_status(NULL));
}

/* GitLab's composite over builds[] (lib/gitlab/ci/status/composite.rb), and the status a hook
 * is decided at. */
static void check_status(void)
{
    static const struct {
        const char *name;
        struct tg_build b[3];
        size_t n;
        const char *hook, *jobs, *decided;
    } rows[] = {
        {"all green",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "success", 0}},
         2,
         "success",
         "success",
         "success"},
        {"held running by an external pending status, a job failed",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "failed", 0}},
         2,
         "running",
         "failed",
         "failed"},
        {"held running, jobs green: an echo, not terminal",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "success", 0}},
         2,
         "running",
         "success",
         "running"},
        {"a job may fail",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "failed", 1}},
         2,
         "running",
         "success",
         "running"},
        {"a job still running",
         {{1, "a", "t", "running", 0}, {2, "b", "t", "failed", 0}},
         2,
         "running",
         "running",
         "running"},
        {"canceled",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "canceled", 0}},
         2,
         "pending",
         "canceled",
         "canceled"},
        {"manual blocks",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "manual", 0}},
         2,
         "manual",
         "manual",
         "manual"},
        {"manual may be skipped",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "manual", 1}},
         2,
         "success",
         "success",
         "success"},
        {"created with success is running",
         {{1, "a", "t", "success", 0}, {2, "b", "t", "created", 0}},
         2,
         "running",
         "running",
         "running"},
        {"all skipped", {{1, "a", "t", "skipped", 0}}, 1, "skipped", "skipped", "skipped"},
        {"own status left out",
         {{1, "a", "t", "success", 0}, {2, "tollgate/production", "x", "failed", 0}},
         2,
         "running",
         "success",
         "running"},
        {"failed hook stays failed",
         {{1, "a", "t", "success", 0}},
         1,
         "failed",
         "success",
         "failed"},
        {"no jobs", {{0, NULL, NULL, NULL, 0}}, 0, "running", NULL, "running"},
    };
    for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
        struct tg_event e = {.builds = (struct tg_build *)rows[i].b,
                             .nbuilds = rows[i].n,
                             .pipeline_status = (char *)rows[i].hook};
        UNIT_STREQ(rows[i].name, tg_lifecycle_jobs_status(&e), rows[i].jobs);
        UNIT_STREQ(rows[i].name, tg_lifecycle_status(&e), rows[i].decided);
    }
}

int main(void)
{
    check_kinds();
    check_fingerprint();
    check_status();
    return unit_summary("test_lifecycle");
}
