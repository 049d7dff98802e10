/* main.c: the `dualneuron` desktop application's entry point. */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <locale.h>

#include <glib/gi18n.h>

#include "dn-app-application.h"

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* run from the build tree (not installed): use the schema compiled there */
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe && g_str_has_prefix (exe, DN_BUILD_ROOT "/") && !g_getenv ("GSETTINGS_SCHEMA_DIR"))
    g_setenv ("GSETTINGS_SCHEMA_DIR", DN_BUILD_SCHEMAS_DIR, FALSE);
  /* run from the build tree: its compiled translations (build/po/<lang>/LC_MESSAGES) */
  bindtextdomain (GETTEXT_PACKAGE, exe && g_str_has_prefix (exe, DN_BUILD_ROOT "/") ? DN_BUILD_ROOT "/po" : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_autoptr (DnAppApplication) app = dn_app_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
