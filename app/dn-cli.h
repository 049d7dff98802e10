/* dn-cli.h: what the dualneuron-cli command files share.
 * SPDX-License-Identifier: MIT
 */
#pragma once
#include "dn-device.h"

typedef struct
{
  DnDeviceOptions dev;
} CliCommon;

void dn_cli_common_init (CliCommon *c);
/* If argv[i] is a common option (--backend, --device, --software, --threads, --validation), consumes it
 * and its value and returns the next index; returns i if it is not one; -1 on a bad value. */
int dn_cli_parse_common (int argc, char **argv, int i, CliCommon *c);
/* Opens the device the options ask for, or prints why not and returns NULL. */
DnDevice *dn_cli_device (const CliCommon *c);
/* Prints "dualneuron-cli: <what>: <dn_last_error()>" and returns 1. */
int dn_cli_fail (const char *what);

int dn_cli_info (int argc, char **argv);
int dn_cli_predict (int argc, char **argv);
int dn_cli_gradient (int argc, char **argv);
int dn_cli_import (int argc, char **argv);
int dn_cli_screen (int argc, char **argv);
int dn_cli_synth (int argc, char **argv);
int dn_cli_stats (int argc, char **argv);
int dn_cli_merge (int argc, char **argv);
