// A select marked data-reload-with="<param>" reloads its page form with the chosen value
// (the connector form shows the chosen kind's fields); what was typed in the visible text
// fields is carried in the query string, never a password.
document.querySelectorAll("select[data-reload-with]").forEach(function (select) {
  select.addEventListener("change", function () {
    var params = new URLSearchParams(window.location.search);
    params.set(select.dataset.reloadWith, select.value);
    select.form.querySelectorAll("input[type=text], select").forEach(function (field) {
      if (field !== select && field.name && field.value && !field.disabled) {
        params.set(field.name, field.value);
      }
    });
    window.location.assign(window.location.pathname + "?" + params.toString());
  });
});
