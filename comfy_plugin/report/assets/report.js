// The --comfy-report page: the filter box, and a check that every image decoded (and how wide
// each node's bar was drawn), written to the document's title and to data-* attributes so that
// a headless browser can read it.
(function(){
  var filter=document.getElementById('filter');
  filter.addEventListener('input',function(){
    var q=filter.value.toLowerCase().trim();
    document.querySelectorAll('.card').forEach(function(c){
      c.style.display=(!q||c.dataset.search.indexOf(q)>=0)?'':'none';});
  });
  function check(){
    var imgs=Array.prototype.slice.call(document.images),ok=0;
    imgs.forEach(function(i){var good=i.complete&&i.naturalWidth>0;i.setAttribute('data-loaded',good?'yes':'no');if(good)ok++;});
    var first=document.querySelector('.card');
    document.querySelectorAll('.bars .fill').forEach(function(f){  // the bars' drawn widths, in pixels
      f.setAttribute('data-px',f.getBoundingClientRect().width.toFixed(1));
      f.setAttribute('data-track-px',f.parentNode.getBoundingClientRect().width.toFixed(1));});
    document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-loaded',ok);
    document.title='comfy report: '+ok+'/'+imgs.length+' images loaded; first: '+(first?first.dataset.outcome+' '+first.dataset.nodeid:'none');
  }
  // Review: "flip" swaps a comparison's baseline and new image in place; ticked cards' test ids
  // download as accepted.json, for pytest --comfy-accept.
  document.querySelectorAll('.compare button.flip').forEach(function(b){
    b.addEventListener('click',function(){
      var imgs=b.closest('.compare').querySelectorAll('.row figure img');
      if(imgs.length<2)return;
      var src=imgs[0].src;imgs[0].src=imgs[1].src;imgs[1].src=src;
      b.classList.toggle('flipped');});
  });
  var download=document.getElementById('accept-download');
  function ticked(){return Array.prototype.map.call(document.querySelectorAll('.accept-box:checked'),
    function(c){return c.dataset.nodeid;});}
  document.querySelectorAll('.accept-box').forEach(function(c){c.addEventListener('change',function(){
    var n=ticked().length;document.getElementById('accept-count').textContent=n;download.disabled=!n;});});
  if(download){download.addEventListener('click',function(){
    var blob=new Blob([JSON.stringify(ticked(),null,1)+'\n'],{type:'application/json'});
    var a=document.createElement('a');a.href=URL.createObjectURL(blob);a.download='accepted.json';
    document.body.appendChild(a);a.click();a.remove();});}
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();
