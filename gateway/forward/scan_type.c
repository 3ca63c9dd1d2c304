/* scan_type.c -- counted report format -> DefectDojo scan_type (any thread). */
#include "forward/scan_type.h"
#include "base/util.h"

#include <stdio.h>
#include <string.h>

struct map {
    const char *from, *to;
};

/* DefectDojo's parser names (dojo/tools/<tool>/parser.py get_scan_types). */
static const struct map formats[] = {
    {"trivy", "Trivy Scan"},
    {"horusec", "Horusec Scan"},
    {"sarif", "SARIF"},
    {"grype", "Anchore Grype"},
};

/* GitLab's scan.type values (the security report schemas) that DefectDojo has a parser for. */
static const struct map gitlab_types[] = {
    {"sast", "GitLab SAST Report"},
    {"container_scanning", "GitLab Container Scan"},
    {"dependency_scanning", "GitLab Dependency Scanning Report"},
    {"secret_detection", "GitLab Secret Detection Report"},
    {"dast", "GitLab DAST Report"},
    {"api_fuzzing", "GitLab API Fuzzing Report Scan"},
};

static const char *lookup(const struct map *m, size_t n, const char *from)
{
    for (size_t i = 0; from && i < n; i++)
        if (strcmp(m[i].from, from) == 0)
            return m[i].to;
    return NULL;
}

const char *tg_dojo_scan_type(const char *format, const char *gitlab_scan_type,
                              const char *configured, char *err, size_t errlen)
{
    if (configured && *configured)
        return configured;
    if (format && strcmp(format, "gitlab") == 0) {
        const char *t = lookup(gitlab_types, TG_ARRAY_SIZE(gitlab_types), gitlab_scan_type);
        if (t)
            return t;
        if (gitlab_scan_type)
            snprintf(err, errlen,
                     "GitLab scan.type \"%.64s\" has no DefectDojo parser Tollgate knows: name it "
                     "with defectdojo_scan_type on the policy's report entry",
                     gitlab_scan_type);
        else
            snprintf(err, errlen,
                     "a GitLab report without scan.type (an older schema): name its DefectDojo "
                     "scan_type with defectdojo_scan_type on the policy's report entry");
        return NULL;
    }
    const char *t = lookup(formats, TG_ARRAY_SIZE(formats), format);
    if (t == NULL)
        snprintf(err, errlen, "report format \"%.32s\" has no DefectDojo scan_type",
                 format ? format : "(none)");
    return t;
}
