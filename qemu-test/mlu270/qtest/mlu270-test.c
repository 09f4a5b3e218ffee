/* placeholder, replaced below */
#include "qemu/osdep.h"
#include "libqtest.h"
static void test_ids(void)
{
    QTestState *qts = qtest_init("-machine q35 -device mlu270,addr=0x5.0");
    qtest_quit(qts);
}
int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/mlu270/ids", test_ids);
    return g_test_run();
}
