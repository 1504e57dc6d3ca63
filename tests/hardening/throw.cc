// The C++ part of host-fixture: exceptions thrown and caught in a loop, so that samples land
// while the C++ runtime unwinds its own stack.
#include <stdexcept>

static int __attribute__((noinline)) deep(int n)
{
    if (n == 0)
        throw std::runtime_error("planted");
    return deep(n - 1) + 1;
}

extern "C" long throw_and_catch(long rounds)
{
    long caught = 0;
    for (long i = 0; i < rounds; i++) {
        try {
            deep(8);
        } catch (const std::exception &) {
            caught++;
        }
    }
    return caught;
}
