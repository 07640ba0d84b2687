#include "comm/message.h"

#include <gtest/gtest.h>

#include "fedsilo/error.h"

using namespace fedsilo;
using namespace fedsilo::comm;

TEST(Message, RoundTrip) {
  Message m;
  m.type = MsgType::kSendModel;
  m.id = "2-5-abc";
  m.run_id = "r";
  m.sender = 2;
  m.receiver = 0;
  m.round = 4;
  m.model = {"fedsilo/r/silo_2/round_4.safetensors", 1234, std::string(64, 'a')};
  m.num_samples = 77;
  m.metrics = {{"train_loss", 0.5}};
  auto back = decode(encode(m));
  EXPECT_EQ(back.type, MsgType::kSendModel);
  EXPECT_EQ(back.id, m.id);
  EXPECT_EQ(back.round, 4);
  EXPECT_EQ(back.model.key, m.model.key);
  EXPECT_EQ(back.model.size, 1234);
  EXPECT_EQ(back.num_samples, 77);
  EXPECT_EQ(back.metrics["train_loss"], 0.5);
  EXPECT_TRUE(back.control.empty()) << "no correction unless one is sent";
  m.control = {"fedsilo/r/control/silo_2/round_4.safetensors", 99, std::string(64, 'b')};
  back = decode(encode(m));
  EXPECT_EQ(back.control.key, m.control.key);
  EXPECT_EQ(back.control.size, 99);
  EXPECT_EQ(back.control.sha256, m.control.sha256);
}

TEST(Message, RejectsMalformedPayloadsNamingTheField) {
  auto error_of = [](const std::string& p) {
    try {
      decode(p);
    } catch (const ProtocolError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("{not json").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": 99, "id": "x", "run_id": "r", "sender": 1, "receiver": 0})")
                .find("unknown type 99"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": 5, "run_id": "r", "sender": 1, "receiver": 0})")
                .find("field id is missing"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": 5, "id": "x", "run_id": "r", "sender": "one", "receiver": 0})")
                .find("field sender has the wrong type"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"type": 3, "id": "x", "run_id": "r", "sender": 1, "receiver": 0, "round": 1})")
          .find("SEND_MODEL needs a round and a model"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"type": 5, "id": "x", "run_id": "r", "sender": 1, "receiver": 0,
                        "control": {"key": "k", "size": 0, "sha256": ""}})")
                .find("field control needs a key, a positive size"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kMaxMessageBytes + 1, ' ')).find("exceeds the limit"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": 5, "id": "x", "run_id": "r", "sender": 1, "receiver": 0,
                        "seq": -4})")
                .find("field seq is negative"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": 5, "id": "x", "run_id": "r", "sender": 1, "receiver": 0,
                        "seq": 1e300})")
                .find("field seq"),
            std::string::npos);
  // Integer fields take JSON integers in range only: converting 1e300 would be undefined
  // behaviour (found by fuzz/fuzz_message), and true or 2^64-1 would pass as 1 or -1.
  const std::string head = R"({"type": 5, "id": "x", "run_id": "r", )";
  EXPECT_NE(error_of(head + R"("sender": 1, "receiver": 0, "round": 1e300})")
                .find("field round has the wrong type (an integer is expected): 1e+300"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"("sender": true, "receiver": 0})").find("field sender has the wrong"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"("sender": 1, "receiver": 18446744073709551615})")
                .find("field receiver is out of range"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": 4294967301, "id": "x", "run_id": "r", "sender": 1,
                        "receiver": 0})")
                .find("field type is out of range"),
            std::string::npos);
}
