/*
 * hold_client.c - a client that keeps one connection open, for the
 * integration tests (the clapper command opens one per request).
 *
 *   hold_client ENDPOINT KEYFILE SERVER_PUB <commands
 *
 * Connects once (a DEALER, CURVE with KEYFILE against SERVER_PUB) and reads
 * commands from stdin, one a line: "whoami", "jobs", "cancel ID".  Each is
 * sent as a Request on that same connection, and its reply is printed as
 * one line: "ok JSON" or "error CODE: MESSAGE" ("error timeout: ..." when
 * nothing came back within 10 s).  Exits at the end of stdin.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "codec.h"
#include "keys.h"

static int request(void *sock, Clapper__Request *req) {
  envelope_t env = CODEC_ENVELOPE(REQUEST, request, req);
  if (codec_send(sock, NULL, 0, &env) < 0) {
    printf("error send: %s\n", zmq_strerror(errno));
    return -1;
  }
  uint64_t deadline = util_mono_us() + 10000000;
  while (util_mono_us() < deadline) {
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 100) <= 0)
      continue;
    envelope_t *in = NULL;
    char err[256];
    int rc = codec_recv(sock, NULL, NULL, NULL, CODEC_MAX_CLIENT_MSG, &in, err, sizeof err);
    if (rc < 0) {
      printf("error protocol: %s\n", err);
      return -1;
    }
    if (rc == 0)
      continue;
    if (in->body_case == CLAPPER__ENVELOPE__BODY_REPLY && in->reply->id == req->id) {
      if (in->reply->ok)
        printf("ok %s\n", in->reply->json);
      else
        printf("error %s: %s\n", in->reply->error_code, in->reply->error_message);
      codec_free(&in);
      return 0;
    }
    codec_free(&in);
  }
  printf("error timeout: no reply within 10 s\n");
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: hold_client ENDPOINT KEYFILE SERVER_PUB <commands\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
  char err[1024];
  if (keys_client(sock, argv[2], argv[3], NULL, err, sizeof err) < 0) {
    fprintf(stderr, "hold_client: %s\n", err);
    return 1;
  }
  if (zmq_connect(sock, argv[1]) < 0) {
    fprintf(stderr, "hold_client: %s: %s\n", argv[1], zmq_strerror(errno));
    return 1;
  }
  char line[256];
  uint64_t id = 0;
  uint64_t job = 0;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    Clapper__Request req = CLAPPER__REQUEST__INIT;
    req.id = ++id;
    if (!strcmp(line, "whoami")) {
      req.verb = CLAPPER__VERB__VERB_WHOAMI;
    } else if (!strcmp(line, "jobs")) {
      req.verb = CLAPPER__VERB__VERB_JOBS;
    } else if (sscanf(line, "cancel %" SCNu64, &job) == 1) {
      req.verb = CLAPPER__VERB__VERB_CANCEL;
      req.ids = &job;
      req.n_ids = 1;
    } else {
      printf("error usage: unknown command '%s'\n", line);
      continue;
    }
    request(sock, &req);
  }
  zmq_close(sock);
  zmq_ctx_term(ctx);
  return 0;
}
