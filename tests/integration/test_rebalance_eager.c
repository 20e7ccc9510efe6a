/* test_rebalance_eager: two instances of one group with the eager protocol
 * (librdkafka's default range,roundrobin): B joins while A works, A leaves
 * on SIGTERM, B finishes; nothing is lost and nothing committed ahead of an
 * unfinished message. See me_rebalance_scenario. */
#include "mockenv.h"

int main(void)
{
        me_rebalance_scenario("rebalance_eager", "partition.assignment.strategy: range",
                              "eager");
        return 0;
}
