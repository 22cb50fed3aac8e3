// librdkafka statistics -> Prometheus gauges (consumer lag per partition among them).
#include <gtest/gtest.h>

#include "runtime/metrics.h"
#include "runtime/service.h"

namespace sf::runtime {
namespace {

TEST(KafkaStatistics, ConsumerLagPerPartitionAndQueueDepthBecomeGauges) {
  // Shape and field names as librdkafka 2.0 emits them (STATISTICS.md), trimmed.
  const char* json = R"({"name":"streamforge#consumer-7","type":"consumer","msg_cnt":12,"txmsgs":5,"rxmsgs":1500,
    "topics":{"wf-btcusdt-trades":{"topic":"wf-btcusdt-trades","partitions":{
      "0":{"partition":0,"consumer_lag":42,"hi_offset":100},
      "1":{"partition":1,"consumer_lag":-1},
      "-1":{"partition":-1,"consumer_lag":-1}}}}})";
  export_kafka_statistics(json);
  auto text = metrics::default_registry().render();
  EXPECT_NE(text.find("sf_kafka_consumer_lag{client=\"streamforge#consumer-7\",partition=\"0\",topic=\"wf-btcusdt-trades\"} 42"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("partition=\"-1\""), std::string::npos);  // internal partition skipped
  EXPECT_EQ(text.find("partition=\"1\""), std::string::npos);   // unknown lag (-1) skipped
  EXPECT_NE(text.find("sf_kafka_queue_messages{client=\"streamforge#consumer-7\"} 12"), std::string::npos) << text;
  EXPECT_NE(text.find("sf_kafka_rx_messages{client=\"streamforge#consumer-7\"} 1500"), std::string::npos);
  export_kafka_statistics("{not json");  // ignored, no crash
}

}  // namespace
}  // namespace sf::runtime
