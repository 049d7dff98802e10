/* dn-app-job.c: coalesced progress of background jobs (see dn-app-job.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include "dn-app-job.h"

typedef struct
{
  GMutex lock;
  guint idle_id;   /* the pending publish, under the lock */
  double fraction;
  char *message;
} DnAppJobPrivate;

enum
{
  PROP_0,
  PROP_FRACTION,
  PROP_MESSAGE,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

G_DEFINE_TYPE_WITH_PRIVATE (DnAppJob, dn_app_job, G_TYPE_OBJECT)

static void
dn_app_job_finalize (GObject *object)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (DN_APP_JOB (object));
  g_clear_handle_id (&priv->idle_id, g_source_remove);
  g_free (priv->message);
  g_mutex_clear (&priv->lock);
  G_OBJECT_CLASS (dn_app_job_parent_class)->finalize (object);
}

static void
dn_app_job_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (DN_APP_JOB (object));
  switch (prop_id)
    {
    case PROP_FRACTION: g_value_set_double (value, priv->fraction); break;
    case PROP_MESSAGE: g_value_set_string (value, priv->message); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dn_app_job_class_init (DnAppJobClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->finalize = dn_app_job_finalize;
  object_class->get_property = dn_app_job_get_property;
  properties[PROP_FRACTION] = g_param_spec_double ("fraction", NULL, NULL, 0, 1, 0,
                                                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MESSAGE] = g_param_spec_string ("message", NULL, NULL, NULL,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
dn_app_job_init (DnAppJob *self)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  g_mutex_init (&priv->lock);
  priv->message = g_strdup ("");
}

double
dn_app_job_get_fraction (DnAppJob *self)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  return priv->fraction;
}

const char *
dn_app_job_get_message (DnAppJob *self)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  return priv->message;
}

void
_dn_app_job_lock (DnAppJob *self)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  g_mutex_lock (&priv->lock);
}

void
_dn_app_job_unlock (DnAppJob *self)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  g_mutex_unlock (&priv->lock);
}

static gboolean
publish_in_idle (gpointer data)
{
  DnAppJob *self = data;
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  g_mutex_lock (&priv->lock);
  priv->idle_id = 0;
  g_mutex_unlock (&priv->lock);
  DN_APP_JOB_GET_CLASS (self)->publish (self);
  return G_SOURCE_REMOVE;
}

void
_dn_app_job_schedule_locked (DnAppJob *self)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  if (priv->idle_id == 0)
    priv->idle_id = g_idle_add_full (G_PRIORITY_LOW, publish_in_idle, g_object_ref (self), g_object_unref);
}

void
_dn_app_job_flush (DnAppJob *self)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  g_object_ref (self); /* the pending idle may hold the last other reference */
  g_mutex_lock (&priv->lock);
  guint id = priv->idle_id;
  priv->idle_id = 0;
  g_mutex_unlock (&priv->lock);
  if (id)
    g_source_remove (id);
  DN_APP_JOB_GET_CLASS (self)->publish (self);
  g_object_unref (self);
}

void
_dn_app_job_set_progress (DnAppJob *self, double fraction, const char *message)
{
  DnAppJobPrivate *priv = dn_app_job_get_instance_private (self);
  priv->fraction = CLAMP (fraction, 0.0, 1.0);
  g_free (priv->message);
  priv->message = g_strdup (message ? message : "");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
}
