/* static-true: a statically linked program, which no preload can enter. */
int main(void)
{
    return 0;
}
