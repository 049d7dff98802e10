/* dn-app-neuron.c: the neuron row object (see dn-app-neuron.h). */
/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "dn-app"

#include <math.h>

#include "dn-app-neuron.h"

struct _DnAppNeuron
{
  GObject parent_instance;
  int index;
  char *label;          /* "0042" */
  char *description;    /* RF parameters of a built-in cell, or "" */
  double correlation;   /* test correlation of the twin, NaN when unknown */
  double most, least;   /* responses of the best most-/least-pole, NaN when not synthesized */
  double screen_max, screen_mean, selectivity; /* screening: max, mean, Gini; NaN when not screened */
  GdkPaintable *most_paintable, *least_paintable;
};

enum
{
  PROP_0,
  PROP_INDEX,
  PROP_LABEL,
  PROP_DESCRIPTION,
  PROP_CORRELATION,
  PROP_MOST,
  PROP_LEAST,
  PROP_SCREEN_MAX,
  PROP_SCREEN_MEAN,
  PROP_SELECTIVITY,
  PROP_RATIO,
  PROP_MOST_PAINTABLE,
  PROP_LEAST_PAINTABLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (DnAppNeuron, dn_app_neuron, G_TYPE_OBJECT)

static double
ratio (DnAppNeuron *self)
{
  if (isnan (self->most) || isnan (self->screen_max) || self->screen_max == 0)
    return NAN;
  return self->most / self->screen_max;
}

static void
dn_app_neuron_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DnAppNeuron *self = DN_APP_NEURON (object);
  switch (prop_id)
    {
    case PROP_INDEX: g_value_set_int (value, self->index); break;
    case PROP_LABEL: g_value_set_string (value, self->label); break;
    case PROP_DESCRIPTION: g_value_set_string (value, self->description); break;
    case PROP_CORRELATION: g_value_set_double (value, self->correlation); break;
    case PROP_MOST: g_value_set_double (value, self->most); break;
    case PROP_LEAST: g_value_set_double (value, self->least); break;
    case PROP_SCREEN_MAX: g_value_set_double (value, self->screen_max); break;
    case PROP_SCREEN_MEAN: g_value_set_double (value, self->screen_mean); break;
    case PROP_SELECTIVITY: g_value_set_double (value, self->selectivity); break;
    case PROP_RATIO: g_value_set_double (value, ratio (self)); break;
    case PROP_MOST_PAINTABLE: g_value_set_object (value, self->most_paintable); break;
    case PROP_LEAST_PAINTABLE: g_value_set_object (value, self->least_paintable); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dn_app_neuron_finalize (GObject *object)
{
  DnAppNeuron *self = DN_APP_NEURON (object);
  g_free (self->label);
  g_free (self->description);
  g_clear_object (&self->most_paintable);
  g_clear_object (&self->least_paintable);
  G_OBJECT_CLASS (dn_app_neuron_parent_class)->finalize (object);
}

static GParamSpec *
value_param (const char *name, const char *nick)
{
  return g_param_spec_double (name, nick, NULL, -G_MAXDOUBLE, G_MAXDOUBLE, 0, /* NaN = unknown (not allowed as the default) */
                              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
}

static void
dn_app_neuron_class_init (DnAppNeuronClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = dn_app_neuron_get_property;
  object_class->finalize = dn_app_neuron_finalize;
  properties[PROP_INDEX] = g_param_spec_int ("index", "Index", NULL, 0, G_MAXINT, 0,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LABEL] = g_param_spec_string ("label", "Label", NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_DESCRIPTION] = g_param_spec_string ("description", "Description", NULL, NULL,
                                                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CORRELATION] = value_param ("correlation", "Test correlation");
  properties[PROP_MOST] = value_param ("most", "Most-pole response");
  properties[PROP_LEAST] = value_param ("least", "Least-pole response");
  properties[PROP_SCREEN_MAX] = value_param ("screen-max", "Screening maximum");
  properties[PROP_SCREEN_MEAN] = value_param ("screen-mean", "Screening mean");
  properties[PROP_SELECTIVITY] = value_param ("selectivity", "Selectivity (Gini)");
  properties[PROP_RATIO] = value_param ("ratio", "Most-pole ÷ best screened image");
  properties[PROP_MOST_PAINTABLE] = g_param_spec_object ("most-paintable", NULL, NULL, GDK_TYPE_PAINTABLE,
                                                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_LEAST_PAINTABLE] = g_param_spec_object ("least-paintable", NULL, NULL, GDK_TYPE_PAINTABLE,
                                                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
dn_app_neuron_init (DnAppNeuron *self)
{
  self->correlation = self->most = self->least = NAN;
  self->screen_max = self->screen_mean = self->selectivity = NAN;
}

DnAppNeuron *
dn_app_neuron_new (int index, const char *description, double correlation)
{
  DnAppNeuron *self = g_object_new (DN_APP_TYPE_NEURON, NULL);
  self->index = index;
  self->label = g_strdup_printf ("%04d", index);
  self->description = g_strdup (description ? description : "");
  self->correlation = correlation;
  return self;
}

int
dn_app_neuron_get_index (DnAppNeuron *self)
{
  return self->index;
}

const char *
dn_app_neuron_get_label (DnAppNeuron *self)
{
  return self->label;
}

const char *
dn_app_neuron_get_description (DnAppNeuron *self)
{
  return self->description;
}

double
dn_app_neuron_get_value (DnAppNeuron *self, const char *property)
{
  double v = NAN;
  g_object_get (self, property, &v, NULL);
  return v;
}

static void
set_value (DnAppNeuron *self, double *field, double value, int prop)
{
  if (*field == value || (isnan (*field) && isnan (value)))
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
dn_app_neuron_set_poles (DnAppNeuron *self, double most, double least, GdkPaintable *most_paintable,
                         GdkPaintable *least_paintable)
{
  set_value (self, &self->most, most, PROP_MOST);
  set_value (self, &self->least, least, PROP_LEAST);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATIO]);
  if (g_set_object (&self->most_paintable, most_paintable))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MOST_PAINTABLE]);
  if (g_set_object (&self->least_paintable, least_paintable))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LEAST_PAINTABLE]);
}

void
dn_app_neuron_set_screening (DnAppNeuron *self, double max, double mean, double selectivity)
{
  set_value (self, &self->screen_max, max, PROP_SCREEN_MAX);
  set_value (self, &self->screen_mean, mean, PROP_SCREEN_MEAN);
  set_value (self, &self->selectivity, selectivity, PROP_SELECTIVITY);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATIO]);
}

char *
dn_app_format_value (gpointer unused, double value)
{
  if (isnan (value))
    return g_strdup ("—");
  return g_strdup_printf ("%.3g", value);
}
