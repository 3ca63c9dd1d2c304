/* fuzz_template.c -- tg_template_load_mem on any YAML; a template that loads must render for
 * a fixed event and decision. Inputs naming a file: token are skipped: the loader would read
 * whatever path the fuzzer invents (/dev/zero never ends). */
#include "decide/gitlab.h"
#include "decide/policy.h"
#include "deliver/template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char event_json[] = "{\"object_kind\":\"pipeline\",\"object_attributes\":{\"id\":7,"
                                 "\"ref\":\"main\",\"status\":\"success\","
                                 "\"sha\":\"abc\"},\"project\":{\"id\":1,\"path_with_namespace\":"
                                 "\"shop/cart\",\"web_url\":\"http://g/shop/cart\"}}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("TRIGGER_TOKEN", "fuzz-token", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_diag diag;
    struct tg_event ev;
    struct tg_trigger_request r;
    struct tg_decision d = {.verdict = TG_VERDICT_DEPLOY,
                            .environment = "production",
                            .rule = "policy",
                            .policy_hash = "00"};
    char err[256];
    if (memmem(data, size, "file:", 5) != NULL)
        return 0;
    tg_diag_init(&diag);
    struct tg_template_set *ts = tg_template_load_mem("fuzz.yaml", (const char *)data, size, &diag);
    const struct tg_template *t = ts ? tg_template_match(ts, "shop/cart") : NULL;
    if (t && tg_event_parse(&(struct tg_hook){NULL, event_json, sizeof event_json - 1}, &ev, err,
                            sizeof err) == 0) {
        if (tg_template_render(t, &(struct tg_template_input){&ev, &d}, &r, err, sizeof err) == 0) {
            if (r.project == NULL || r.ref == NULL || r.token == NULL ||
                (r.nvars && r.var_values[0] == NULL))
                abort();
            tg_trigger_request_dispose(&r);
        }
        tg_event_dispose(&ev);
    }
    if (ts == NULL && diag.errors == 0)
        abort(); /* a refusal always says why */
    tg_template_set_free(ts);
    tg_diag_dispose(&diag);
    return 0;
}
