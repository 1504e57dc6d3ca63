/* The check as JUnit XML (the Ant/Surefire dialect GitLab, Jenkins and GitHub test reporters
 * read): one test case per finding, failing or skipped when allowed or known, and a passing
 * one for each rule that found nothing, so a clean run still shows what it checked. */
#include <limits.h>
#include <string.h>

#include "check/check.h"
#include "common/options.h"
#include "errors.h"
#include "stacks/frames.h"

/* XML 1.0 allows no C0 controls but tab, LF and CR, and only valid UTF-8. */
static void xml(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned char c = *s;
        int n = c < 0x80             ? 1
                : (c & 0xe0) == 0xc0 ? 2
                : (c & 0xf0) == 0xe0 ? 3
                : (c & 0xf8) == 0xf0 ? 4
                                     : 0;
        for (int i = 1; i < n; i++)
            if ((s[i] & 0xc0) != 0x80)
                n = 0;
        if (n == 0 || (n == 2 && c < 0xc2)) {
            fputs("\xef\xbf\xbd", out);
            s++;
            continue;
        }
        if (n > 1) {
            fwrite(s, 1, (size_t)n, out);
            s += n;
            continue;
        }
        switch (c) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        default:
            fputc(c < 0x20 && c != '\t' && c != '\n' && c != '\r' ? '?' : c, out);
        }
        s++;
    }
}

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void testcase(FILE *out, const struct ss_check_result *res, const struct ss_finding *f)
{
    char path[PATH_MAX], name[512];
    unsigned line, col;
    fprintf(out, "    <testcase classname=\"stallscope.%s\" name=\"", ss_rule_name(f->rule));
    xml(out, f->title);
    fprintf(out, " [%s]\"", f->fingerprint);
    if (ss_finding_source(res, f, path, sizeof path, &line, &col) == 1) {
        fputs(" file=\"", out);
        xml(out, path);
        fputc('"', out);
    }
    fprintf(out, " time=\"%.6f\">\n", seconds(f->total_ns));
    if (f->state == SS_FINDING_ALLOWED) {
        fputs("      <skipped message=\"allowed by ", out);
        xml(out, res->allowlist->path);
        fprintf(out, ":%u\"/>\n", f->allowed_by->line);
    } else if (f->state == SS_FINDING_KNOWN) {
        fputs("      <skipped message=\"known: in the baseline\"/>\n", out);
    } else {
        fprintf(out, "      <failure type=\"%s\" message=\"", ss_rule_name(f->rule));
        xml(out, f->title);
        fputs("\">", out);
        xml(out, f->title);
        fprintf(out, "\nfingerprint %s; thread %u (", f->fingerprint, f->tid);
        xml(out, f->thread);
        fprintf(out, ") of pid %u: ", f->process->pid);
        xml(out, f->process->command);
        if (f->detail && f->detail[0]) {
            fputs("\non ", out);
            xml(out, f->detail);
        }
        for (uint32_t i = 0; f->stack && f->stack->frames && i < f->stack->nframes; i++) {
            const struct ss_frame *fr = &f->stack->frames[i];
            ss_frame_display_name(fr, name, sizeof name);
            fputs("\n    at ", out);
            xml(out, name);
            if (fr->module) {
                fputs(" (", out);
                xml(out, ss_basename(fr->module));
                fputc(')', out);
            }
        }
        fputs("</failure>\n", out);
    }
    fputs("    </testcase>\n", out);
}

int ss_check_write_junit(const struct ss_check_result *res, FILE *out)
{
    size_t clean = 0, skipped = res->allowed + res->known;
    uint64_t total = 0;
    for (unsigned r = 0; r < SS_RULE_COUNT; r++) {
        int found = 0;
        for (size_t i = 0; i < res->nfindings; i++)
            found |= res->findings[i].rule == r;
        clean += (res->rules_set >> r & 1) && !found;
    }
    for (size_t i = 0; i < res->nfindings; i++)
        total += res->findings[i].total_ns;
    size_t tests = res->nfindings + clean;
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(out,
            "<testsuites name=\"stallscope check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "skipped=\"%zu\" time=\"%.6f\">\n",
            tests, res->failed, skipped, seconds(total));
    fputs("  <testsuite name=\"stallscope check of ", out);
    xml(out, res->run_path);
    fprintf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.6f\">\n",
            tests, res->failed, skipped, seconds(total));
    fputs("    <properties>\n      <property name=\"rules\" value=\"", out);
    xml(out, res->rules);
    fputs("\"/>\n    </properties>\n", out);
    for (size_t i = 0; i < res->nfindings; i++)
        testcase(out, res, &res->findings[i]);
    for (unsigned r = 0; r < SS_RULE_COUNT; r++) {
        int found = 0;
        for (size_t i = 0; i < res->nfindings; i++)
            found |= res->findings[i].rule == r;
        if ((res->rules_set >> r & 1) && !found)
            fprintf(out,
                    "    <testcase classname=\"stallscope.%s\" name=\"%s: no finding\" "
                    "time=\"0.000000\"/>\n",
                    ss_rule_name(r), ss_rule_name(r));
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
    return ss_write_status(out);
}
