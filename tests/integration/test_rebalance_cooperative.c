/* test_rebalance_cooperative: the rebalance scenario with the cooperative
 * protocol (cooperative-sticky: incremental assign/unassign). See
 * me_rebalance_scenario. */
#include "mockenv.h"

int main(void)
{
        me_rebalance_scenario("rebalance_cooperative",
                              "partition.assignment.strategy: cooperative-sticky",
                              "cooperative");
        return 0;
}
