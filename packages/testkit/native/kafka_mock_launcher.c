/*
 * kafka_mock_launcher: runs librdkafka's mock Kafka cluster in its own process and drives it
 * through line commands on stdin. Built and spawned by packages/testkit/src/kafka-mock.ts.
 *
 *   usage: kafka_mock_launcher [brokers]        (default 1)
 *
 * On start it prints the bootstrap address list ("127.0.0.1:p1,127.0.0.1:p2,...") as one line.
 * Then, one command per line on stdin, each answered by one line "ok" or "err <message>":
 *
 *   topic <name> <partitions> <replication>   rd_kafka_mock_topic_create
 *   down <brokerId>                           rd_kafka_mock_broker_set_down
 *   up <brokerId>                             rd_kafka_mock_broker_set_up
 *   errors <apiKey> <count> <errcode...>      rd_kafka_mock_push_request_errors
 *                                             (one errcode is repeated <count> times)
 *   quit                                      destroy the cluster and exit
 *
 * The process also exits when stdin closes (the parent died or closed the pipe), and asks the
 * kernel to kill it if its parent dies, so no mock cluster outlives a test run.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ERRORS 1024

static rd_kafka_t *rk;
static rd_kafka_mock_cluster_t *mcluster;

static void reply_ok(void) {
  fputs("ok\n", stdout);
  fflush(stdout);
}

static void reply_err(const char *fmt, const char *arg) {
  fputs("err ", stdout);
  fprintf(stdout, fmt, arg);
  fputc('\n', stdout);
  fflush(stdout);
}

/* Parses a base-10 long; returns 0 on success. */
static int parse_long(const char *s, long *out) {
  char *end = NULL;
  if (s == NULL || *s == '\0') return -1;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == NULL || *end != '\0') return -1;
  *out = v;
  return 0;
}

static void cmd_topic(char **argv, int argc) {
  long partitions, replication;
  if (argc != 4 || parse_long(argv[2], &partitions) || parse_long(argv[3], &replication) ||
      partitions < 1 || replication < 1) {
    reply_err("%s", "usage: topic <name> <partitions> <replication>");
    return;
  }
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(mcluster, argv[1], (int)partitions, (int)replication);
  if (err) reply_err("%s", rd_kafka_err2str(err));
  else reply_ok();
}

static void cmd_broker(char **argv, int argc, int up) {
  long id;
  if (argc != 2 || parse_long(argv[1], &id)) {
    reply_err("%s", up ? "usage: up <brokerId>" : "usage: down <brokerId>");
    return;
  }
  rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mcluster, (int32_t)id)
                               : rd_kafka_mock_broker_set_down(mcluster, (int32_t)id);
  if (err) reply_err("%s", rd_kafka_err2str(err));
  else reply_ok();
}

static void cmd_errors(char **argv, int argc) {
  static rd_kafka_resp_err_t errs[MAX_ERRORS];
  long api_key, count;
  if (argc < 4 || parse_long(argv[1], &api_key) || parse_long(argv[2], &count) || count < 1 ||
      count > MAX_ERRORS) {
    reply_err("%s", "usage: errors <apiKey> <count 1..1024> <errcode...>");
    return;
  }
  int given = argc - 3;
  if (given != 1 && given != count) {
    reply_err("%s", "give one errcode (repeated) or exactly <count> errcodes");
    return;
  }
  for (long i = 0; i < count; i++) {
    long code;
    if (parse_long(argv[3 + (given == 1 ? 0 : i)], &code)) {
      reply_err("%s", "errcode must be an integer");
      return;
    }
    errs[i] = (rd_kafka_resp_err_t)code;
  }
  rd_kafka_mock_push_request_errors_array(mcluster, (int16_t)api_key, (size_t)count, errs);
  reply_ok();
}

int main(int argc, char **argv) {
  char errstr[512];
  long brokers = 1;
  if (argc > 1 && (parse_long(argv[1], &brokers) || brokers < 1 || brokers > 32)) {
    fprintf(stderr, "kafka_mock_launcher: brokers must be 1..32\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "kafka_mock_launcher: rd_kafka_new: %s\n", errstr);
    return 1;
  }
  mcluster = rd_kafka_mock_cluster_new(rk, (int)brokers);
  if (!mcluster) {
    fprintf(stderr, "kafka_mock_launcher: rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
  fflush(stdout);

  char line[8192];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *args[3 + MAX_ERRORS];
    int n = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok != NULL && n < (int)(sizeof args / sizeof *args);
         tok = strtok(NULL, " \t\r\n"))
      args[n++] = tok;
    if (n == 0) continue;
    if (strcmp(args[0], "topic") == 0) cmd_topic(args, n);
    else if (strcmp(args[0], "down") == 0) cmd_broker(args, n, 0);
    else if (strcmp(args[0], "up") == 0) cmd_broker(args, n, 1);
    else if (strcmp(args[0], "errors") == 0) cmd_errors(args, n);
    else if (strcmp(args[0], "quit") == 0) {
      reply_ok();
      break;
    } else reply_err("unknown command: %s", args[0]);
  }

  rd_kafka_mock_cluster_destroy(mcluster);
  rd_kafka_destroy(rk);
  return 0;
}
