/* main() of the Criterion programs whose tests time stalls and calls against a fixture's own
 * clock: one test at a time, so that on a 2-core machine no test starves the monitor or the
 * helper threads of the one under way. */
#include <criterion/criterion.h>
#include <stdbool.h>

int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    criterion_options.jobs = 1;
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}
